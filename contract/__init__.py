"""The format contract with France Travail: what both parties agree on, and nothing else.

The record layouts of the PECGM and CGPEM files (`layouts`), their XSDs and the
annexe-4 code tables (`schemas/`), the XML writer driven by the layouts
(`xml_writer`), the file names (`file_names`), the département's spelling in
files, names and folders (`departement`), the Latin-1 rules of the CGPEM
(`latin1`) and the NIR as the files carry it (`nir`: its check, the layouts'
NIR fields use it, and the 13-character comparison key).

The bottom layer: a plain package (no models, not an app) that imports no app
of the project, so that the reader, the import, the CGPEM writer, the HTTPS
client and the stand-in exchange server all take the contract from one place.
"""
