"""The data layer's error: a file, row or array that cannot be read as a data set."""
from graphc.errors import InputError


class DataError(InputError):
    """Bad training/evaluation data: names the file (and line) or the array, and what to do."""
