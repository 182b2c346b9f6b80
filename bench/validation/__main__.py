import sys

from bench.validation.run import main

sys.exit(main())
