"""``python -m tools.bench``."""

import sys

from tools.bench import cli

if __name__ == '__main__':
    sys.exit(cli.main())
