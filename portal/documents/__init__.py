"""Documents of a dossier: generated PDFs, uploaded signed returns, training files."""
