"""relay247: the real-time request broker of the 24/7 network of cybercrime contact points."""

from importlib.metadata import PackageNotFoundError, version

try:
    # From the installed distribution, so `relay247 --version`, the OpenAPI document and
    # pyproject.toml say one thing.
    __version__ = version("relay247")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
