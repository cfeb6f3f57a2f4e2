"""The one error type of bad input: a step, network script or tool raises DataError with one line
that names the file and what is wrong; command_line.run_cli prints it and exits with status 1."""


class DataError(Exception):
    """Bad or missing input; the message is one line that names the file and what is wrong."""
