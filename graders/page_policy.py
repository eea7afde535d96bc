"""What a page paceline puts in front of a student may load or run: nothing but its own styles.

Every page a student fetches (feedback rendered from their notebook, the
notice that a submission was refused) starts with this Content-Security-Policy,
so whatever a sanitizer misses still cannot run script, load a resource,
submit a form or frame anything. It lives below every stage because both the
exchange (refusal notices) and feedback (rendered pages) write such pages.
"""

# Inline <style> stays allowed: nbgrader's page inlines its own CSS. Nothing else may load or run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "base-uri 'none'; form-action 'none'"
)
