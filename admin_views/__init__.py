"""Flask-Admin views: declarative configuration over the secure base view."""
