"""A page lists each inline script once.

Sphinx 7.4 keeps an inline script that an extension adds after the HTML builder has started twice, once
named None and once named "" (sphinx-thebe's `const THEBE_JS_URL = ...`), and the second copy fails in the
browser: "Identifier 'THEBE_JS_URL' has already been declared". This drops the second copy of any inline
script from every page.
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body")
        if body and not getattr(script, "filename", None):
            if body in seen:
                continue
            seen.add(body)
        kept.append(script)
    context["script_files"][:] = kept


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)  # after the themes add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
