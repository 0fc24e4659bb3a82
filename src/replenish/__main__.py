import sys

from replenish.cli import main

sys.exit(main())
