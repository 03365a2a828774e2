"""Files: HDF5 scenes, label documents, and the public dataset formats."""
