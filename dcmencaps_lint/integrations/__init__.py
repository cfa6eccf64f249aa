"""encaps-lint inside other programs: orthanc.py is the gate of the Orthanc PACS."""
