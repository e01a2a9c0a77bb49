//! Routing without a router crate: the path below the base path (from `<base href>`) and the
//! query string, kept in a signal; links push history entries, back and forward pop them.

use fluxboard_model::api::ObjectRef;
use fluxboard_model::view::ListQuery;
use leptos::prelude::*;

/// A page of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Page {
    Overview,
    List(ListQuery),
    Detail(ObjectRef),
    Controllers,
    Audit,
    /// The wall screen: no chrome, big type (its options are the query).
    Wall,
    /// The fleet graph (`/graph?cluster=&namespace=&focus=`), the query kept as it is.
    Graph(String),
    /// Where a revision is (`/revisions?q=`).
    Revisions(String),
    /// What runs where (`/matrix`).
    Matrix,
    NotFound,
}

impl Page {
    /// The document title of the page.
    pub(crate) fn title(&self) -> String {
        let what = match self {
            Page::Overview => "Overview".to_owned(),
            Page::List(_) => "Resources".to_owned(),
            Page::Detail(r) => format!("{} {}/{} ({})", r.kind, r.namespace, r.name, r.cluster),
            Page::Controllers => "Controllers".to_owned(),
            Page::Audit => "Audit log".to_owned(),
            Page::Wall => "Wall".to_owned(),
            Page::Graph(_) => "Graph".to_owned(),
            Page::Revisions(_) => "Revision".to_owned(),
            Page::Matrix => "Release matrix".to_owned(),
            Page::NotFound => "Not found".to_owned(),
        };
        format!("{what} · fluxboard")
    }

    /// The main navigation entry the page belongs to (`/`, `/resources`...).
    pub(crate) fn section(&self) -> &'static str {
        match self {
            Page::Overview => "/",
            Page::List(_) | Page::Detail(_) => "/resources",
            Page::Controllers => "/controllers",
            Page::Audit => "/audit",
            Page::Wall => "/wall",
            Page::Graph(_) => "/graph",
            Page::Revisions(_) | Page::Matrix => "/matrix",
            Page::NotFound => "",
        }
    }
}

/// The current location below the base path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Router {
    /// `(path, query)`: path like `/resources`, query without `?`.
    pub(crate) location: RwSignal<(String, String)>,
}

impl Router {
    pub(crate) fn new() -> Router {
        let router = Router { location: RwSignal::new(current()) };
        let handle = window_event_listener(leptos::ev::popstate, move |_| router.location.set(current()));
        // The app never unmounts: the listener lives as long as the page.
        std::mem::drop(handle);
        router
    }

    pub(crate) fn page(&self) -> Page {
        self.location.with(|(path, query)| parse(path, query))
    }

    /// Goes to `href` (a path below the base, with an optional query) with a new history entry.
    pub(crate) fn navigate(&self, href: &str) {
        let url = format!("{}{href}", base());
        if let Ok(history) = window().history() {
            let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
        self.location.set(current());
        window().scroll_to_with_x_and_y(0.0, 0.0);
        focus_heading();
    }

    /// Replaces the query of the current page (filters typed into the list) without a new
    /// history entry for every keystroke.
    pub(crate) fn replace_query(&self, query: &str) {
        let path = self.location.with_untracked(|(p, _)| p.clone());
        let href = if query.is_empty() { path } else { format!("{path}?{query}") };
        if let Ok(history) = window().history() {
            let _ =
                history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("{}{href}", base())));
        }
        self.location.set(current());
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

/// After a navigation in place, moves focus to the new page's heading (once it is rendered), so
/// keyboard and screen reader users start at the top of what they opened, as after a page load.
fn focus_heading() {
    set_timeout(
        || {
            use wasm_bindgen::JsCast as _;
            let Ok(Some(h1)) = document().query_selector("main h1") else { return };
            let _ = h1.set_attribute("tabindex", "-1");
            if let Ok(h1) = h1.dyn_into::<web_sys::HtmlElement>() {
                let _ = h1.focus();
            }
        },
        std::time::Duration::from_millis(0),
    );
}

/// The base path of the app ("" or `/some/prefix`), from the document's `<base href>`.
pub(crate) fn base() -> String {
    let uri = document().base_uri().ok().flatten().unwrap_or_default();
    // `http://host:port/prefix/` → `/prefix`
    let after_scheme = uri.split_once("://").map_or(uri.as_str(), |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    path.trim_end_matches('/').to_owned()
}

fn current() -> (String, String) {
    let location = window().location();
    let path = location.pathname().unwrap_or_default();
    let base = base();
    let below = path.strip_prefix(&base).unwrap_or(&path);
    let below = if below.is_empty() { "/".to_owned() } else { below.to_owned() };
    let query = location.search().unwrap_or_default().trim_start_matches('?').to_owned();
    (below, query)
}

fn parse(path: &str, query: &str) -> Page {
    let parts: Vec<String> =
        path.trim_matches('/').split('/').filter(|p| !p.is_empty()).map(fluxboard_model::view::decode).collect();
    match parts.as_slice() {
        [] => Page::Overview,
        [r] if r == "resources" => Page::List(ListQuery::from_query(query)),
        [r] if r == "controllers" => Page::Controllers,
        [r] if r == "audit" => Page::Audit,
        [r] if r == "wall" => Page::Wall,
        [r] if r == "graph" => Page::Graph(query.to_owned()),
        [r] if r == "revisions" => Page::Revisions(query.to_owned()),
        [r] if r == "matrix" => Page::Matrix,
        [r, cluster, group, kind, namespace, name] if r == "resources" => Page::Detail(ObjectRef {
            cluster: cluster.clone(),
            group: group.clone(),
            kind: kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
        }),
        _ => Page::NotFound,
    }
}

/// `cluster/group/kind/namespace/name`, each part percent-encoded: the tail of an object's page
/// and API paths.
pub(crate) fn ref_path(r: &ObjectRef) -> String {
    use fluxboard_model::view::encode;
    [&r.cluster, &r.group, &r.kind, &r.namespace, &r.name].map(|p| encode(p)).join("/")
}

/// The app path of an object's detail page.
pub(crate) fn detail_href(r: &ObjectRef) -> String {
    format!("/resources/{}", ref_path(r))
}

/// The app path of the resource list with `query`.
pub(crate) fn list_href(query: &ListQuery) -> String {
    let q = query.to_query();
    if q.is_empty() { "/resources".to_owned() } else { format!("/resources?{q}") }
}

/// A link inside the app: a real `<a href>` (open in a new tab works) that navigates in place
/// on a plain click.
#[component]
pub(crate) fn Link(
    #[prop(into)] href: String,
    #[prop(optional, into)] class: String,
    /// A main navigation entry: `aria-current="page"` on its page, a highlight in its section.
    #[prop(optional)]
    nav: bool,
    /// A roving tab stop (the list's rows): 0 for the one in the tab order, -1 for the others.
    #[prop(optional, into)]
    tabindex: Option<Signal<i32>>,
    /// The id of what describes the link (`aria-describedby`).
    #[prop(optional, into)]
    describedby: Option<String>,
    children: Children,
) -> impl IntoView {
    let router = expect_context::<Router>();
    let target = href.clone();
    let full = format!("{}{href}", base());
    let here = {
        let href = href.clone();
        move || nav && router.location.with(|(path, _)| *path == href)
    };
    let in_section = move || nav && router.page().section() == href;
    view! {
        <a
            href=full
            class=class
            class:active=in_section
            aria-current=move || here().then_some("page")
            aria-describedby=describedby
            tabindex=move || tabindex.map(|t| t.get())
            on:click=move |ev: web_sys::MouseEvent| {
                if ev.button() == 0 && !ev.ctrl_key() && !ev.meta_key() && !ev.shift_key() && !ev.alt_key() {
                    ev.prevent_default();
                    router.navigate(&target);
                }
            }
        >
            {children()}
        </a>
    }
}
