"""The CRM store: tables, migrations, engine set-up and one repository per area."""
