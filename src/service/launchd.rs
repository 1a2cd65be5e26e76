//! The launchd LaunchAgent (macOS).

use super::{Action, ServiceSpec, UnitFile, fill, home_path, values};

const TEMPLATE: &str = include_str!("../../launchd/execq.plist.in");

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plist, for `~/Library/LaunchAgents/LABEL.plist`.
pub fn plist(spec: &ServiceSpec) -> UnitFile {
    UnitFile {
        path: home_path(spec, &format!("Library/LaunchAgents/{}.plist", spec.label)),
        content: fill(TEMPLATE, &values(spec), xml_escape),
    }
}

fn target(spec: &ServiceSpec) -> String {
    format!("gui/{}/{}", spec.uid, spec.label)
}

fn launchctl(args: &[&str]) -> Vec<String> {
    std::iter::once("launchctl")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect()
}

/// What to check when `launchctl bootstrap` keeps failing.
const BOOTSTRAP_HINT: &str = "Check the plist with `plutil -lint`; allow execq under System Settings \
     → General → Login Items → Allow in the Background; and install from a GUI login session (over \
     ssh there is no gui/UID domain to load into).";

/// Stops the agent if it is loaded, without interrupting a job: wait for a running job (holding
/// the queue meanwhile), bootout, wait until it is gone.
fn stop(spec: &ServiceSpec) -> Vec<Action> {
    vec![
        Action::HoldQueue(spec.queue.clone()),
        Action::Run {
            argv: launchctl(&["bootout", &target(spec)]),
            may_fail: true,
        },
        Action::WaitUntilFails(probe(spec)),
        Action::ReleaseQueue,
    ]
}

/// Reloads with the modern verbs: stop (see [`stop`]), enable, bootstrap (retried: launchd
/// sometimes refuses it right after a bootout).
pub fn load(spec: &ServiceSpec) -> Vec<Action> {
    let plist = plist(spec).path.display().to_string();
    let domain = format!("gui/{}", spec.uid);
    let mut plan = stop(spec);
    plan.extend([
        Action::Run {
            argv: launchctl(&["enable", &target(spec)]),
            may_fail: false,
        },
        Action::Retry {
            argv: launchctl(&["bootstrap", &domain, &plist]),
            hint: BOOTSTRAP_HINT.into(),
        },
    ]);
    plan
}

pub fn unload(spec: &ServiceSpec) -> Vec<Action> {
    let mut plan = stop(spec);
    plan.push(Action::Remove(plist(spec).path));
    plan
}

/// Succeeds when the agent is loaded.
pub fn probe(spec: &ServiceSpec) -> Vec<String> {
    launchctl(&["print", &target(spec)])
}
