from riverhead.cli.main import main

main()
