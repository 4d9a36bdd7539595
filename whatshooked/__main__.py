from whatshooked.cli.main import main

raise SystemExit(main())
