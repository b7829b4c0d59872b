"""``python -m container_edu class create NAME``: a class for the lecturer's class view.

The class code is printed for the learners (they join with it); the teacher key opens the class view and is
printed this once: only its salted hash is stored. ``CONTAINER_EDU_DATABASE_URL`` names the database, as for the
app (default: the SQLite file in the per-user data folder).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from container_edu.progress.database import create_class, default_url, open_database



def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("class", help="classes for the lecturer's class view")
    actions = parser.add_subparsers(dest="class_action", required=True)
    create = actions.add_parser("create", help="make a class; prints its class code and teacher key once")
    create.add_argument("name", help='what the lecturer calls the class, e.g. "Lab 3" (at most 120 characters)')
    create.set_defaults(run=_create)


def _create(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        print("the class needs a name, e.g. \"Lab 3\"", file=sys.stderr)
        return 2
    try:
        engine = open_database(default_url())
        try:
            code, key = create_class(engine, name)
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        # The database URL may hold a password: name the kind of failure, not the text of the error.
        print(f"the progress database could not be reached ({type(error).__name__})", file=sys.stderr)
        return 1
    print(f"class: {name[:120]}")
    print(f"class code: {code}    (learners join with it: Lessons page, 'Join a class', or ?class={code})")
    print(f"teacher key: {key}    (opens the Class view page; shown only now, only its hash is stored)")
    return 0
