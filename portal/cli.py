"""Command-line interface: flask seed reference | demo, flask users create-admin."""
import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from .extensions import db
from .models import CFA_ADMIN, Dossier, User, UserRole

DEMO_ACCOUNTS = [
    ("admin@sillon.demo", "administrateur du CFA"),
    ("conseil@sillon.demo", "conseillère du CFA"),
    ("resp.info@sillon.demo", "responsable de 2 formations informatique"),
    ("resp.droit@sillon.demo", "responsable du master de droit"),
    ("gest.info@sillon.demo", "gestionnaire des formations informatique"),
    ("rh@acme.sillon.demo", "employeur, référent d'ACME"),
    ("rh@globex.sillon.demo", "employeur chez Globex"),
    ("alice@etu.sillon.demo", "alternante (ACME)"),
    ("bruno@etu.sillon.demo", "alternant (Globex)"),
]
DEMO_PASSWORD = "sillon-demo"


def refresh_planner_statistics() -> None:
    """ANALYZE after a bulk load: without statistics SQLite and PostgreSQL pick poor plans for
    the scoped list queries (an OR of sub-selects)."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def register_cli(app: Flask) -> None:
    seed = AppGroup("seed", help="Charger les données de référence ou de démonstration.")
    users = AppGroup("users", help="Gérer les comptes.")

    @seed.command("reference")
    def seed_reference():
        """Load the reference data shipped in seeds/reference (idempotent)."""
        from seeds.reference import load_reference
        counts = load_reference()
        click.echo("Données de référence : " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    @seed.command("demo")
    @click.option("--dossiers", "extra", type=int, default=0,
                  help="Ajouter N dossiers synthétiques (tests de volume).")
    @click.option("--if-empty", is_flag=True, help="Ne rien faire si la base contient déjà "
                  "des dossiers.")
    def seed_demo(extra, if_empty):
        """Create the demo CFA, trainings, employers, accounts and dossiers (idempotent)."""
        from seeds.demo import add_synthetic_dossiers, load_demo
        from seeds.reference import load_reference
        if if_empty and db.session.execute(select(func.count(Dossier.id))).scalar_one():
            click.echo("La base contient déjà des dossiers : données de démonstration inchangées.")
        else:
            load_reference()
            counts = load_demo()
            click.echo("Démonstration : " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if extra:
            started = time.perf_counter()
            added = add_synthetic_dossiers(extra)
            click.echo(f"{added} dossiers synthétiques ajoutés en "
                       f"{time.perf_counter() - started:.1f} s.")
        refresh_planner_statistics()

    @seed.command("accounts")
    def seed_accounts():
        """Print the demo accounts."""
        click.echo(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
        for email, who in DEMO_ACCOUNTS:
            click.echo(f"  {email:<26} {who}")

    @seed.command("snapshots")
    def seed_snapshots():
        """Freeze the dossiers already past "Validation demandée" that have no snapshot yet
        (after upgrading a database created before snapshots existed)."""
        from portal.dossiers import snapshot
        count = snapshot.backfill()
        db.session.commit()
        click.echo(f"Dossiers figés : {count}")

    @users.command("create-admin")
    @click.argument("email")
    @click.password_option("--password", prompt="Mot de passe")
    def create_admin(email, password):
        """Create (or promote) a cfa_admin account."""
        email = email.strip().lower()
        user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user = User(email=email)
            db.session.add(user)
        user.set_password(password)
        if CFA_ADMIN not in user.role_codes:
            user.roles.append(UserRole(role=CFA_ADMIN))
        db.session.commit()
        click.echo(f"Administrateur {email} prêt.")

    app.cli.add_command(seed)
    app.cli.add_command(users)
