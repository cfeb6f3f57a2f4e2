% Small files with the variables and types the original's MATLAB steps save (see each step's
% zeros(..., type) lines), written by Octave's save -v7 as MATLAB would write them.
H = 4; W = 6;
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
