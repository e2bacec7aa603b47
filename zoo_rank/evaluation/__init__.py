"""How well rankings predict real transfer: ground truth, baselines, metrics and the report.

``metrics`` and ``gains`` need only numpy; ``transfer`` and ``baselines`` fine-tune and
run the base model (the ``train`` extra).
"""
