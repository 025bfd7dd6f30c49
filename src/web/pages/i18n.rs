//! Page text in the user's language: Fluent translation files (`locales/*.ftl`, embedded in
//! the binary), chosen by the language cookie, else the browser's `Accept-Language`.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use unic_langid::LanguageIdentifier;

/// The languages the pages are translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The BCP 47 tag, as used in `lang=` attributes and the language cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, shown in the switch whatever the page's language.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhCn => "简体中文",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../../locales/en.ftl"),
            Lang::ZhCn => include_str!("../../../locales/zh-CN.ftl"),
        }
    }

    fn langid(self) -> LanguageIdentifier {
        self.tag().parse().unwrap_or_default()
    }

    /// The best language for an `Accept-Language` header (English when nothing matches).
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        use fluent_langneg::{accepted_languages, negotiate_languages, NegotiationStrategy};
        let requested = accepted_languages::parse(accept_language.unwrap_or(""));
        let available: Vec<LanguageIdentifier> = Lang::ALL.iter().map(|l| l.langid()).collect();
        let default = Lang::En.langid();
        negotiate_languages(
            &requested,
            &available,
            Some(&default),
            NegotiationStrategy::Filtering,
        )
        .first()
        .and_then(|id| Lang::from_tag(&id.to_string()))
        .unwrap_or(Lang::En)
    }
}

struct Bundles {
    en: FluentBundle<FluentResource>,
    zh_cn: FluentBundle<FluentResource>,
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static BUNDLES: OnceLock<Bundles> = OnceLock::new();
    let all = BUNDLES.get_or_init(|| Bundles {
        en: load(Lang::En),
        zh_cn: load(Lang::ZhCn),
    });
    match lang {
        Lang::En => &all.en,
        Lang::ZhCn => &all.zh_cn,
    }
}

/// Parses an embedded translation file. Its syntax is checked by the tests below, so an error
/// here is a build defect: logged, and the messages that did parse are still used.
fn load(lang: Lang) -> FluentBundle<FluentResource> {
    let resource =
        FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(partial, errors)| {
            tracing::error!(lang = lang.tag(), "translation file has errors: {errors:?}");
            partial
        });
    let mut bundle = FluentBundle::new_concurrent(vec![lang.langid()]);
    // Unicode isolation marks around arguments would end up inside form values and titles.
    bundle.set_use_isolating(false);
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(
            lang = lang.tag(),
            "translation file has duplicate messages: {errors:?}"
        );
    }
    bundle
}

/// Translates for one request.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    /// The text for `key`; the key itself when the message is missing (visible, never a panic).
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The text for `key` with one argument filled in.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_string(), value.to_string());
        self.format(key, Some(&args))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        let bundle = bundle(self.lang);
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(lang = self.lang.tag(), "missing translation `{key}`");
            return key.to_string();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(lang = self.lang.tag(), "translation `{key}`: {errors:?}");
        }
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lang: Lang) -> std::collections::BTreeSet<String> {
        let resource = FluentResource::try_new(lang.source().to_string())
            .unwrap_or_else(|(_, errors)| panic!("{} does not parse: {errors:?}", lang.tag()));
        resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_language_has_the_same_messages() {
        let en = keys(Lang::En);
        let zh = keys(Lang::ZhCn);
        assert!(!en.is_empty());
        assert_eq!(
            en.difference(&zh).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in zh-CN"
        );
        assert_eq!(
            zh.difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in en"
        );
    }

    /// Every `t("...")` / `t1("...")` key used by a template or the page code is translated.
    #[test]
    fn every_key_used_is_translated() {
        let en = keys(Lang::En);
        let pattern = regex::Regex::new(r#"\bt1?\("([a-z0-9-]+)""#).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates", "src/web/pages"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                sources.push(std::fs::read_to_string(entry.path()).unwrap());
            }
        }
        let used: Vec<String> = sources
            .iter()
            .flat_map(|s| {
                pattern
                    .captures_iter(s)
                    .map(|c| c[1].to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(used.len() > 20, "the scan finds the keys ({})", used.len());
        let missing: Vec<&String> = used.iter().filter(|k| !en.contains(*k)).collect();
        assert!(missing.is_empty(), "untranslated keys: {missing:?}");
    }

    #[test]
    fn browser_languages_choose_the_translation() {
        assert_eq!(Lang::negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::ZhCn);
        assert_eq!(Lang::negotiate(Some("zh")), Lang::ZhCn);
        assert_eq!(Lang::negotiate(Some("fr-FR,en-GB;q=0.5")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de")), Lang::En);
        assert_eq!(Lang::negotiate(None), Lang::En);
    }

    #[test]
    fn arguments_are_filled_in() {
        let tr = Tr { lang: Lang::En };
        assert_eq!(
            tr.t1("signed-in-as", "email", "a@b.example"),
            "Signed in as a@b.example"
        );
        // Built at run time so the scan for used keys does not count it.
        let missing = format!("no-such-{}", "key");
        assert_eq!(tr.t(&missing), missing);
    }
}
