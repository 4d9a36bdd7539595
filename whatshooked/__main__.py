from whatshooked.cli import main

raise SystemExit(main())
