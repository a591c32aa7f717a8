"""What relevance is measured against and with: judgments (BEIR folders, click logs,
the hash split) and the metrics (nDCG, recall, MRR). Both ``learn`` and
``evaluation`` use them; neither is imported from here, so the packages stay layered."""
