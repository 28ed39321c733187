from keyctl.cli import main

main()
