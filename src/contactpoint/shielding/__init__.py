"""Shielding: hide a vulnerable child's whereabouts, and never lose the shield (issue 7)."""
