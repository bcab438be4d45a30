"""One WTForms form per dossier tab. Fields are named in the tabs' flat namespace
(portal/tabs/base.py); format checks live here, required fields and rules in portal/tabs."""
