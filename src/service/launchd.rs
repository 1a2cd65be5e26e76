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

/// Reloads with the modern verbs: bootout (if loaded), wait until gone, enable, bootstrap.
pub fn load(spec: &ServiceSpec) -> Vec<Action> {
    let plist = plist(spec).path.display().to_string();
    let domain = format!("gui/{}", spec.uid);
    vec![
        Action::Run {
            argv: launchctl(&["bootout", &target(spec)]),
            may_fail: true,
        },
        Action::WaitUntilFails(probe(spec)),
        Action::Run {
            argv: launchctl(&["enable", &target(spec)]),
            may_fail: false,
        },
        Action::Run {
            argv: launchctl(&["bootstrap", &domain, &plist]),
            may_fail: false,
        },
    ]
}

pub fn unload(spec: &ServiceSpec) -> Vec<Action> {
    vec![
        Action::Run {
            argv: launchctl(&["bootout", &target(spec)]),
            may_fail: true,
        },
        Action::WaitUntilFails(probe(spec)),
        Action::Remove(plist(spec).path),
    ]
}

/// Succeeds when the agent is loaded.
pub fn probe(spec: &ServiceSpec) -> Vec<String> {
    launchctl(&["print", &target(spec)])
}
