use super::*;

fn parse(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

#[test]
fn settings_are_read_with_units() {
    let config = parse("timeout = \"10m\"\ngrace = 2.5\njobs = 3\n").unwrap();
    assert_eq!(config.timeout, Some(Seconds(Duration::from_secs(600))));
    assert_eq!(config.grace, Some(Seconds(Duration::from_millis(2500))));
    assert_eq!(config.jobs, Some(Jobs(3)));
}

#[test]
fn mistakes_name_the_line_and_the_key() {
    let typo = parse("jobs = 2\ntimout = 3\n").unwrap_err();
    assert!(typo.contains("line 2") && typo.contains("timout"), "{typo}");
    let range = parse("jobs = 0\n").unwrap_err();
    assert!(range.contains("`jobs` must be from 1 to 256"), "{range}");
    let huge = parse("timeout = 1e19\n").unwrap_err();
    assert!(huge.contains("more than the limit"), "{huge}");
}

#[test]
fn a_flag_beats_the_file_which_beats_the_default() {
    let file = parse("timeout = 7\njobs = 2\n").unwrap();
    let flags = Flags {
        jobs: Some(4),
        ..Flags::default()
    };
    let (opts, settings) = effective(Some(&file), &flags, DrainOptions::default());
    assert_eq!(opts.timeout, Duration::from_secs(7));
    assert_eq!(opts.jobs, 4);
    assert_eq!(opts.grace, DrainOptions::default().grace);
    let source = |name| settings.iter().find(|s| s.name == name).unwrap().source;
    assert_eq!(source("timeout"), Source::File);
    assert_eq!(source("jobs"), Source::Flag);
    assert_eq!(source("grace"), Source::Default);
}
