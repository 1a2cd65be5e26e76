//! systemd user units (Linux): a `.path` unit that starts the `.service` while `pending/` holds a
//! job, and a `.timer` backstop.

use super::{Action, ServiceSpec, UnitFile, fill, values};

const SERVICE: &str = include_str!("../../systemd/execq.service.in");
const PATH: &str = include_str!("../../systemd/execq.path.in");
const TIMER: &str = include_str!("../../systemd/execq.timer.in");

/// `%` starts a specifier in unit files; `"` and `\` matter inside the quoted ExecStart words.
fn unit_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
}

fn unit_dir(spec: &ServiceSpec) -> std::path::PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| spec.home.join(".config"))
        .join("systemd/user")
}

/// The three units, for `~/.config/systemd/user/`.
pub fn units(spec: &ServiceSpec) -> Vec<UnitFile> {
    let dir = unit_dir(spec);
    [("service", SERVICE), ("path", PATH), ("timer", TIMER)]
        .into_iter()
        .map(|(kind, template)| UnitFile {
            path: dir.join(format!("{}.{kind}", spec.label)),
            content: fill(template, &values(spec), unit_escape),
        })
        .collect()
}

fn systemctl(args: &[&str]) -> Vec<String> {
    ["systemctl", "--user"]
        .into_iter()
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect()
}

pub fn load(spec: &ServiceSpec) -> Vec<Action> {
    let path = format!("{}.path", spec.label);
    let timer = format!("{}.timer", spec.label);
    vec![
        Action::Run {
            argv: systemctl(&["daemon-reload"]),
            may_fail: false,
        },
        Action::Run {
            argv: systemctl(&["enable", &path, &timer]),
            may_fail: false,
        },
        Action::Run {
            argv: systemctl(&["restart", &path, &timer]),
            may_fail: false,
        },
    ]
}

pub fn unload(spec: &ServiceSpec) -> Vec<Action> {
    let path = format!("{}.path", spec.label);
    let timer = format!("{}.timer", spec.label);
    let mut plan = vec![Action::Run {
        argv: systemctl(&["disable", "--now", &path, &timer]),
        may_fail: true,
    }];
    plan.extend(units(spec).into_iter().map(|u| Action::Remove(u.path)));
    plan.push(Action::Run {
        argv: systemctl(&["daemon-reload"]),
        may_fail: false,
    });
    plan
}

/// Succeeds when the path unit is watching.
pub fn probe(spec: &ServiceSpec) -> Vec<String> {
    systemctl(&["is-active", "--quiet", &format!("{}.path", spec.label)])
}
