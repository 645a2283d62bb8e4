import sys

from gateway.admin.cli import main

sys.exit(main())
