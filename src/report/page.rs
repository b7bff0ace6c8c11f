//! What both HTML pages (the run report and the trend page) share: one handlebars setup.
//!
//! Input: nothing. Output: a registry in strict mode, so that a misspelt field fails the render
//! instead of printing nothing, with HTML escaping for every `{{…}}`. Templates and partials are
//! registered by each page. Must not register a helper that emits raw markup from data: the
//! only raw insertions (`{{{…}}}`) are our own SVG and CSS.

use handlebars::Handlebars;

/// A strict-mode registry with HTML escaping; every page starts from this one.
pub fn registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    // The default, stated: `{{x}}` escapes `&<>"'`=` for text and attribute values alike.
    registry.register_escape_fn(handlebars::html_escape);
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_escaping() {
        let r = registry();
        let page = r
            .render_template(
                "<p title=\"{{a}}\">{{a}}</p>",
                &serde_json::json!({"a": "<\"&'>"}),
            )
            .expect("renders");
        assert_eq!(
            page,
            "<p title=\"&lt;&quot;&amp;&#x27;&gt;\">&lt;&quot;&amp;&#x27;&gt;</p>"
        );
        assert!(
            r.render_template("{{missing}}", &serde_json::json!({}))
                .is_err()
        );
    }
}
