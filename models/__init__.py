"""The data: typed SQLAlchemy models, and the queries and writes on them, by aggregate."""
