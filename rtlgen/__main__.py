import sys

from rtlgen.cli import main

sys.exit(main())
