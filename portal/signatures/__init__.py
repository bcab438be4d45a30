"""Electronic signature of a dossier's CERFA and convention (SPEC §8, issue 17).

- steps.py: what each status of a request and of a signer means (the one table);
- links.py: the signer's personal link and the one-time codes;
- service.py: the one write path (start, code, sign, refuse, cancel, remind, seal);
- seal.py / certificate.py: the signature page and the PAdES seal (pyHanko);
- evidence.py: the evidence file, as JSON and as a PDF summary;
- providers/: the provider interface and its Yousign adapter (the built-in signature is the
  service itself);
- views.py: the signer's pages, reached by their personal link (no account needed).
The dossier moves on through portal.dossiers.service, as with both paper documents returned.
"""
