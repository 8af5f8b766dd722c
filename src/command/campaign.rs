//! A campaign to run (`ivrc run --campaign`, `ivrc serve --campaign`): found by name in the
//! program, with its flow and its leads — the file it names, or `--leads` — checked before any
//! call is placed.

use ivrc::ir::Lead;

/// The campaign to run, its flow's index, its leads — the file it names (read when the
/// program was checked) or `--leads`, whose bad rows are reported with their lines and left
/// out — and the columns of the numbers its calls go to.
pub fn campaign_of(
    program: &ivrc::ir::Program,
    name: &str,
    leads_file: Option<&std::path::Path>,
    flow_dir: &std::path::Path,
) -> Result<(ivrc::ir::Campaign, usize, Vec<Lead>, Vec<String>), String> {
    let Some(c) = program.campaigns.iter().find(|c| c.name == name) else {
        let known: Vec<&str> = program.campaigns.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "no campaign `{name}` in these files (campaigns: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let flow = program
        .flows
        .iter()
        .position(|f| f.name == c.flow)
        .ok_or_else(|| {
            format!(
                "campaign `{name}` runs flow `{}`, which is not there",
                c.flow
            )
        })?;
    let leads = match leads_file {
        None => c.leads_rows.clone(),
        Some(path) => read_leads_file(path, c, &program.flows[flow])?,
    };
    if leads.is_empty() {
        let file = leads_file.map_or_else(|| flow_dir.join(&c.leads), std::path::Path::to_path_buf);
        return Err(format!(
            "campaign `{name}`: no usable leads in {}",
            file.display()
        ));
    }
    let number_columns = ivrc::runtime::dialer::number_columns(c, &program.flows[flow]);
    Ok((c.clone(), flow, leads, number_columns))
}

/// Reads `--leads`: the columns the flow's parameters name, the campaign's delimiter and
/// phone normalization. Bad rows are reported and left out; a file that cannot be read at
/// all is an error.
fn read_leads_file(
    path: &std::path::Path,
    c: &ivrc::ir::Campaign,
    flow: &ivrc::ir::Flow,
) -> Result<Vec<Lead>, String> {
    use ivrc::leads::{ColumnKind, ExpectedColumn, LeadsOptions};
    let bytes = std::fs::read(path).map_err(|e| format!("--leads {}: {e}", path.display()))?;
    let columns = flow
        .params
        .iter()
        .map(|id| {
            let var = &flow.vars[id.0 as usize];
            ExpectedColumn {
                name: var.name.clone(),
                kind: ColumnKind::of_type(var.ty),
            }
        })
        .collect();
    let report = ivrc::leads::read_leads(
        &bytes,
        &LeadsOptions {
            columns,
            delimiter: c.delimiter.bytes().next(),
            normalization: c.normalize,
        },
    );
    for p in &report.problems {
        if !p.is_row() {
            return Err(format!("--leads {}: {p}", path.display()));
        }
        ivrc::errln!(
            "warning: --leads {}: {p}; the row is left out",
            path.display()
        );
    }
    Ok(report.leads)
}

/// This process's name in the campaign's leases: the instance's address, the process id and
/// the start time, so that a restart on the same address never renews (and so keeps forever)
/// the leases its killed predecessor left.
pub fn owner(instance: &str) -> String {
    format!(
        "{instance}/{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    )
}

/// Waits for the dialer and prints its summary line; the exit status it asks for (2 when the
/// campaign stopped on an error).
pub async fn summarize(
    task: tokio::task::JoinHandle<Result<ivrc::runtime::dialer::Summary, String>>,
    lines: ivrc::stdio::Stream,
) -> u8 {
    let s = match task.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            ivrc::errln!("error: the campaign stopped: {e}");
            return 2;
        }
        Err(e) => {
            ivrc::errln!("error: the campaign stopped: {e}");
            return 2;
        }
    };
    ivrc::println_to!(
        lines,
        "campaign: {} done, {} failed, {} pending; {} calls placed{}{}",
        s.done,
        s.failed,
        s.pending,
        s.calls,
        if s.blocked > 0 {
            format!(", {} not placed (the number is blocked)", s.blocked)
        } else {
            String::new()
        },
        fencing_of(&s)
    );
    0
}

/// What fencing did in a campaign run, for its summary line: nothing when it never fenced
/// itself and no finish was refused.
fn fencing_of(s: &ivrc::runtime::dialer::Summary) -> String {
    if s.fenced == 0 && s.lost == 0 {
        return String::new();
    }
    format!(
        "; times fenced: {}, attempts ended after their lease was lost: {}",
        s.fenced, s.lost
    )
}

/// Runs `dialer` over `leads` on a task of its own, placing through `placements` until `stop`;
/// `finished` is told when it ends.
pub fn launch(
    dialer: ivrc::runtime::dialer::Dialer,
    leads: Vec<Lead>,
    placements: tokio::sync::mpsc::UnboundedSender<ivrc::runtime::server::Placement>,
    stop: tokio::sync::watch::Receiver<bool>,
    finished: std::sync::Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<Result<ivrc::runtime::dialer::Summary, String>> {
    tokio::spawn(async move {
        let result = dialer.run(&leads, placements, stop).await;
        finished.notify_one();
        result
    })
}
