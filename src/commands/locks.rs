//! `plan --locks`, and the lock policy's gate in `run`: the pending files
//! are run in the shadow database, measured, sized on the target, and judged
//! ([`crate::locks`]).

use tracing::{debug, info, warn};

use super::{load_and_connect, Output};
use crate::cli::Format;
use crate::config::{Config, ShadowSpec};
use crate::db::shadow::{self, Shadow};
use crate::db::{self, history, measure, Access, Session};
use crate::error::Error;
use crate::files;
use crate::locks::report::{self, Context, ShadowInfo, TargetInfo};
use crate::locks::verdict::{refusal, Stage, Verdict};
use crate::locks::{self, FileReport, Policy, PolicyMode, Work};
use crate::migration::{MigrationSet, Version};
use crate::reconcile::{self, Target};
use crate::signal::Interrupt;

/// `plan --locks` options.
#[derive(Debug, Clone)]
pub struct LocksArgs {
    pub target: Option<Version>,
    /// `--from V`: the target is not consulted.
    pub from: Option<Version>,
    pub format: Format,
}

pub async fn plan_locks(config: &Config, args: LocksArgs, interrupt: &Interrupt) -> Result<Output, Error> {
    let spec = config.shadow.as_ref().ok_or_else(|| {
        Error::config(
            "SCHEMAGATE_SHADOW_URL",
            "plan --locks needs a shadow database: an empty scratch database's URL, or auto",
        )
    })?;
    let target = args.target.clone().map_or(Target::Head, Target::Version);
    let (set, session) = match &args.from {
        Some(_) => (files::load_migrations(&config.migrations_dir)?, None),
        None => {
            let (set, session) = load_and_connect(config, Access::ReadOnly, interrupt).await?;
            (set, Some(session))
        }
    };
    let (work, target_info) = match (&args.from, &session) {
        (Some(from), _) => (
            Work::from_version(&set, from, &target),
            TargetInfo::NotConsulted { from: from.clone() },
        ),
        (None, Some(session)) => {
            let (work, version) = work_for_target(config, &set, session, &target)
                .await?
                .map_err(Error::Verification)?;
            (work, TargetInfo::Consulted { version })
        }
        (None, None) => unreachable!("the target is consulted unless --from is given"),
    };
    let (shadow, files) = measured(config, spec, &work, session.as_ref(), interrupt).await?;
    let context = Context {
        shadow,
        target: target_info,
    };
    conclude(args.format, &context, &config.lock_policy, &files)
}

/// The report for stdout, and under `refuse` exit 2 (the report still
/// printed) when `run` would refuse.
fn conclude(format: Format, context: &Context, policy: &Policy, files: &[FileReport]) -> Result<Output, Error> {
    let stdout = match format {
        Format::Text => report::text(context, policy, files),
        Format::Json => report::json(context, policy, files),
    };
    let verdicts: Vec<Verdict> = files.iter().map(|f| Verdict::of(f, policy.max_rows)).collect();
    if policy.mode == PolicyMode::Refuse {
        if let Some(text) = refusal(&verdicts, policy, Stage::Plan) {
            return Err(Error::WithOutput {
                error: Box::new(Error::Refused(text)),
                stdout,
            });
        }
    }
    let count = |word: &str| verdicts.iter().filter(|v| v.word() == word).count();
    let summary = format!(
        "plan --locks: {} file(s) measured in the shadow: {} safe, {} allowed, {} dangerous; nothing was written to \
         the target",
        files.len(),
        count("safe"),
        count("allowed"),
        count("dangerous")
    );
    Ok(Output {
        stdout: Some(stdout),
        summary,
    })
}

/// The work the target's history calls for, and its version; `Err` holds
/// the problems that keep `run` from planning.
async fn work_for_target<'a>(
    config: &Config,
    set: &'a MigrationSet,
    session: &Session,
    target: &Target,
) -> Result<Result<(Work<'a>, Option<Version>), Vec<reconcile::Problem>>, Error> {
    let table = &config.history_table;
    let recorded = history::read(session, table).await?.unwrap_or_default();
    Ok(
        reconcile::run_plan(set, &recorded, target, &config.rules(), &table.quoted())
            .map(|plan| (Work::for_target(set, &plan, &recorded), plan.report.database_version)),
    )
}

/// The lock policy in `run`, before the migration lock is taken and before
/// anything is applied: with `warn`, findings are logged and `run` goes on;
/// with `refuse`, a finding in a file without `-- schemagate:allow-lock` is
/// exit 2. History problems are left to `run` to report under its lock.
pub async fn gate(
    config: &Config,
    set: &MigrationSet,
    session: &Session,
    target: &Target,
    interrupt: &Interrupt,
) -> Result<(), Error> {
    let policy = config.lock_policy;
    let Some(spec) = policy_shadow(config)? else {
        return Ok(());
    };
    let Ok((work, _)) = work_for_target(config, set, session, target).await? else {
        return Ok(());
    };
    if work.pending.is_empty() {
        return Ok(());
    }
    let files = match measured(config, spec, &work, Some(session), interrupt).await {
        Ok((_, files)) => files,
        Err(e) if policy.mode == PolicyMode::Warn && !matches!(e, Error::Interrupted(_)) => {
            warn!("lock policy: the pending migrations could not be measured; going on (SCHEMAGATE_LOCK_POLICY=warn): {e}");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let verdicts: Vec<Verdict> = files.iter().map(|f| Verdict::of(f, policy.max_rows)).collect();
    for (file, verdict) in files.iter().zip(&verdicts) {
        log_verdict(file, verdict, policy.mode);
    }
    match refusal(&verdicts, &policy, Stage::Run) {
        Some(text) if policy.mode == PolicyMode::Refuse => Err(Error::Refused(text)),
        _ => Ok(()),
    }
}

/// The shadow the policy measures in, `None` when it is not to be applied.
fn policy_shadow(config: &Config) -> Result<Option<&ShadowSpec>, Error> {
    match (config.lock_policy.mode, &config.shadow) {
        (PolicyMode::Off, _) => Ok(None),
        (_, Some(spec)) => Ok(Some(spec)),
        (PolicyMode::Refuse, None) => Err(Error::config(
            "SCHEMAGATE_LOCK_POLICY",
            "refuse needs SCHEMAGATE_SHADOW_URL (an empty scratch database, or auto) to measure the pending \
             migrations in; nothing was applied",
        )),
        (PolicyMode::Warn, None) => {
            debug!("lock policy not applied: no SCHEMAGATE_SHADOW_URL to measure pending migrations in");
            Ok(None)
        }
    }
}

fn log_verdict(file: &FileReport, verdict: &Verdict, mode: PolicyMode) {
    match verdict {
        Verdict::Safe => debug!("lock policy: {}: {}", file.file, verdict.line()),
        Verdict::Allowed { reason, findings } => {
            info!(
                "lock policy: {} let through by -- schemagate:allow-lock: {reason}",
                file.file
            );
            for f in findings {
                info!("lock policy: allowed: {f}");
            }
        }
        Verdict::Dangerous(findings) if mode == PolicyMode::Warn => {
            for f in findings {
                warn!("lock policy: {f}");
            }
        }
        Verdict::Dangerous(_) => {}
    }
}

/// Measures the work in the shadow, then sizes what it touched on the
/// target (when there is one). `None` for the shadow when nothing was pending.
async fn measured(
    config: &Config,
    spec: &ShadowSpec,
    work: &Work<'_>,
    target: Option<&Session>,
    interrupt: &Interrupt,
) -> Result<(Option<ShadowInfo>, Vec<FileReport>), Error> {
    if work.pending.is_empty() {
        return Ok((None, Vec::new()));
    }
    let target_identity = match target {
        Some(session) => Some(shadow::identity(session).await?),
        None => None,
    };
    let shadow = shadow::open(config, spec, target_identity.as_ref(), interrupt).await?;
    let info = ShadowInfo {
        database: shadow.database.clone(),
        auto: shadow.is_auto(),
        server_version: shadow.server.version.clone(),
    };
    let result = in_shadow(&shadow, work, interrupt).await;
    // Every path comes through here, SIGTERM included: `auto` is dropped.
    shadow.close().await;
    let mut files = result?;
    let sizes = match target {
        Some(session) => {
            let names: Vec<String> = locks::relation_names(&files).into_iter().collect();
            shadow::target_sizes(session, &names).await?
        }
        None => None,
    };
    locks::apply_sizes(&mut files, sizes.as_ref());
    Ok((Some(info), files))
}

async fn in_shadow(shadow: &Shadow, work: &Work<'_>, interrupt: &Interrupt) -> Result<Vec<FileReport>, Error> {
    let steps = async {
        info!(
            "preparing the shadow database {}: {} file(s) the target already has",
            shadow.database,
            work.prepare.len()
        );
        for file in &work.prepare {
            measure::apply(shadow, file).await?;
        }
        let existing = measure::existing(shadow).await?;
        let mut files = Vec::new();
        for file in &work.pending {
            debug!("measuring {} in the shadow", file.file_name);
            let observations = measure::measure(shadow, file, interrupt).await?;
            files.push(locks::file_report(file, &observations, &existing));
        }
        Ok(files)
    };
    db::interruptible(&shadow.session, interrupt, steps).await
}
