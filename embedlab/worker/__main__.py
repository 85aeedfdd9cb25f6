from embedlab.worker.start import main

main()
