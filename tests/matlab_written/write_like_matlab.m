% Small files with the variables and types the original's MATLAB steps save (see each step's
% zeros(..., type) lines), written by Octave's save -v7 as MATLAB would write them.
H = 4; W = 6; K = 2;
function v = pattern(sz, offset)
  idx = reshape(0:prod(sz)-1, sz);
  v = mod(idx * 7 + offset, 256);
end
% test_generate_transform: proposal N x H x W x 3 uint8, mask N x H x W uint8, class N x 1 uint8
for N = [0 1 3]
  proposal = uint8(pattern([N H W 3], 1)); if N == 0, proposal = zeros(0, H, W, 3, 'uint8'); end
  mask = uint8(mod(pattern([N H W], 2), 2)); if N == 0, mask = zeros(0, H, W, 'uint8'); end
  class = uint8((1:N)'); proposal_iou = (1:N)' / 10;
  save('-v7', sprintf('transform_%d.mat', N), 'proposal', 'mask', 'class', 'proposal_iou');
end
% test_generate_order: semantic_segment_mask H x W x 3 x N uint8, semantic_segment_label N x 4 double
for N = [0 1 3]
  semantic_segment_mask = uint8(pattern([H W 3 N], 3)); if N == 0, semantic_segment_mask = zeros(H, W, 3, 0, 'uint8'); end
  semantic_segment_label = reshape(mod(0:4*N-1, 19) + 1, N, 4);
  if N == 0, semantic_segment_label = zeros(0, 4); end
  save('-v7', sprintf('order_%d.mat', N), 'semantic_segment_mask', 'semantic_segment_label');
end
% test_generate_canvas: proposal H x W x 3 single in 0..1, label H x W x 3 uint8
proposal = single(pattern([H W 3], 4)) / 255; label = uint8(pattern([H W 3], 5));
save('-v7', 'canvas.mat', 'proposal', 'label');
% train_connect_component_mask / test_connect_component_mask: H x W x N uint8 stacks
for N = [0 1 3]
  library_img = uint8(pattern([H W 3 N], 6)); library_mask = uint8(mod(pattern([H W N], 7), 2));
  library_mask_pole = uint8(mod(pattern([H W N], 8), 2));
  if N == 0
    library_img = zeros(H, W, 3, 0, 'uint8'); library_mask = zeros(H, W, 0, 'uint8'); library_mask_pole = zeros(H, W, 0, 'uint8');
  end
  save('-v7', sprintf('segments_%d.mat', N), 'library_img', 'library_mask', 'library_mask_pole');
end
% search_segments: proposal H x W x 3 x K x N uint8, proposal_iou K x N single,
% proposal_pole_mask H x W x K x N uint8, response_index K x N single
for N = [1 3]
  proposal = uint8(pattern([H W 3 K N], 9)); proposal_iou = single(pattern([K N], 10)) / 256;
  proposal_pole_mask = uint8(mod(pattern([H W K N], 11), 2)); response_index = single(pattern([K N], 12));
  save('-v7', sprintf('search_%d.mat', N), 'proposal', 'proposal_iou', 'proposal_pole_mask', 'response_index');
end
% test_generate_transform, every variable test_generate_canvas reads, at 32 x 64 (the smallest
% level a data root has): N kept segments and M remained ones
for NM = [1 2; 3 0]'
  N = NM(1); M = NM(2); h = 32; w = 64;
  proposal = uint8(pattern([N h w 3], 13)); mask = uint8(mod(pattern([N h w], 14), 2));
  class = uint8(mod((1:N)', 19) + 1); proposal_iou = (1:N)' / 10;
  proposal_pole_mask = uint8(mod(pattern([N h w], 15), 2));
  response_index = uint32((1:N)' + 10); original_index = uint32((1:N)' + 20);
  mask_remained = uint8(mod(pattern([M h w], 16), 2)); if M == 0, mask_remained = zeros(0, h, w, 'uint8'); end
  class_remained = uint32((1:M)' + 2); original_index_remained = uint32((1:M)' + 30);
  all_class_flag = uint32([ones(N, 1) (1:N)'; 2 * ones(M, 1) (1:M)']);
  save('-v7', sprintf('transform_full_%d_%d.mat', N, M), 'proposal', 'mask', 'class', 'proposal_iou', ...
       'proposal_pole_mask', 'response_index', 'original_index', 'mask_remained', 'class_remained', ...
       'original_index_remained', 'all_class_flag');
end
