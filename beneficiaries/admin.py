"""No beneficiary model is registered in Django's admin site, on purpose.

The admin site is for users, territories and reference data. People are read
through the application's own pages, which limit them to the user's
territories, mask the NIR and write the audit trail; the admin site does none
of that, and its change log would keep names and birth dates outside the
retention rules. People come from the Département's tool (import_beneficiaries).
"""
