from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_postcall", "cases.db")
