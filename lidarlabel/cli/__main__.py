from lidarlabel.cli import main

main()
