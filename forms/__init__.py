"""WTForms forms and validators shared by views (wrapping portal.rules)."""
