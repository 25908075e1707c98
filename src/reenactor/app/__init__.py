"""``reenactor app``: the whole workflow (targets, training, driving, results, evaluation) in a web page.

A Gradio front end on the library: every piece of work is a *job*, a subprocess (``python -m
reenactor.app.runner JOB_DIR``) that calls the same functions the CLI calls (:func:`reenactor.extract.extract`,
``reenactor train``'s entry, :func:`reenactor.transfer.transfer` with :class:`~reenactor.transfer.TransferOptions`,
``reenactor evaluate``'s entry) and keeps its state in files under the work folder. So jobs outlive a page
reload (and a restart of the app), two browsers never share a job folder, and the page never waits on work.

:mod:`reenactor.app.jobs` (the work folder, uploads, jobs; no Gradio) is importable without the ``app`` extra;
:mod:`reenactor.app.ui` needs ``pip install "reenactor[app]"``.
"""
