//! The audit log (admins): every action attempt the server recorded, newest first; refused
//! requests (often probes and cross-site posts) hidden unless asked for, so the actions people
//! took are not buried.

use fluxboard_model::action::{AuditEntry, ResultStatus};
use fluxboard_model::api::ObjectRef;
use fluxboard_model::kind_info;
use leptos::prelude::*;

use crate::load::Load;
use crate::route::{Link, detail_href};
use crate::ui::{ErrorView, Table, Time};

#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let entries = Load::new();
    entries.start(crate::api::audit);
    let show_refused = RwSignal::new(false);
    view! {
        <section class="page" aria-labelledby="audit-title">
            <div class="list-head">
                <h1 id="audit-title">"Audit log"</h1>
                <label class="inline-check">
                    <input type="checkbox" prop:checked=move || show_refused.get() on:change=move |ev| show_refused.set(event_target_checked(&ev)) />
                    " Show refused requests"
                </label>
                <button class="btn small" on:click=move |_| entries.start(crate::api::audit)>"Refresh"</button>
            </div>
            {move || match entries.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorView error /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No actions yet."</p> }.into_any(),
                Some(Ok(list)) => view! { <AuditTable list show_refused=show_refused.get() /> }.into_any(),
            }}
        </section>
    }
}

/// The entries shown, and how many refused ones are hidden.
#[component]
fn AuditTable(list: Vec<AuditEntry>, show_refused: bool) -> impl IntoView {
    let all = list.len();
    let list: Vec<AuditEntry> =
        list.into_iter().filter(|e| show_refused || e.status != ResultStatus::Refused).collect();
    let hidden = all - list.len();
    let note = (hidden > 0).then(|| view! { <p class="muted">{format!("{hidden} refused requests hidden.")}</p> });
    let rows = list.into_iter().map(|entry| view! { <AuditRow entry /> }).collect_view();
    view! {
        {note}
        <section class="panel">
            <Table columns=&["When", "User", "Action", "Target", "Result", "Message"] label="Audit log">{rows}</Table>
        </section>
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let e = entry;
    let target = e.target.as_ref().map(|t| {
        let r = ObjectRef {
            cluster: t.cluster.clone(),
            group: t.group.clone().unwrap_or_default(),
            kind: t.kind.clone(),
            namespace: t.namespace.clone(),
            name: t.name.clone(),
        };
        let label = format!("{} {}/{} ({})", t.kind, t.namespace, t.name, t.cluster);
        if kind_info(&r.group, &r.kind).is_some() {
            view! { <Link href=detail_href(&r)>{label}</Link> }.into_any()
        } else {
            view! { <span>{label}</span> }.into_any()
        }
    });
    let (class, text) = match e.status {
        ResultStatus::Accepted => ("badge h-ready", "accepted"),
        ResultStatus::Refused => ("badge h-suspended", "refused"),
        ResultStatus::Failed => ("badge h-failing", "failed"),
    };
    view! {
        <tr>
            <td><Time at=Some(e.time.clone()) /></td>
            <td>{e.user.clone()}</td>
            <td>{e.action.map(|a| a.label()).unwrap_or("—")}</td>
            <td>{target}</td>
            <td><span class=class>{text}</span></td>
            <td class="message">{fluxboard_model::view::plain(&e.message)}</td>
        </tr>
    }
}
