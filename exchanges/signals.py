"""What the exchanges announce, for the parts that keep something derived from their data.

The import does not know who caches what: the caseworker pages
(`beneficiaries`) listen, connected in their AppConfig.ready().
"""

from django.dispatch import Signal

# An import was committed (not a dry run, not a refused file). Arguments: `run` (the
# ImportRun), `counts_computed_next` (the caller computes the pages' counts next:
# `pecgm_imports_finished` follows; the pages keep the previous ones until then).
pecgm_imported = Signal()

# The imports made with counts_computed_next are over (`pecgm_import.after_imports()`).
# Argument: `records`, how many records they held.
pecgm_imports_finished = Signal()
