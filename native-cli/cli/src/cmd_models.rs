//! `strider models ...`: the model registry with deployment history and lineage, on the local
//! store or a server (`--tracking-uri`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::table::Table;
use strider_app::deploy::{check_registered_bundle, lineage_tags, register_bundle};
use strider_mlflow::TrackingUri;
use strider_mlflow::local::LocalStore;
use strider_mlflow::registry::{
    LocalRegistry, ModelInfo, Registry, RestRegistry, alias_history, move_alias, rollback,
};
use strider_mlflow::rest::RestClient;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider models register --run RUN_ID --model trees --name my-trees
  strider models alias my-trees champion 3 --reason \"DSR 0.97\"
  strider models rollback my-trees champion
  strider models show my-trees --tracking-uri http://127.0.0.1:5000")]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
    /// Registry location (as for `strider run`): a server URL or a local `mlruns` path.
    #[arg(long, global = true)]
    tracking_uri: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Register a model as a new version of NAME: a `strider run` parent run (`--run`; with
    /// `--model`, that run's bundle of the model), or a bundle folder (`--bundle`).
    Register {
        /// The tracked run (its parent run id).
        #[arg(long, required_unless_present = "bundle")]
        run: Option<String>,
        /// The run's model whose bundle (`run/bundles/MODEL`) the version serves.
        #[arg(long, requires = "run")]
        model: Option<String>,
        /// A bundle folder to register as it is (an untracked run's RUN_DIR/bundles/MODEL).
        #[arg(long, conflicts_with = "run")]
        bundle: Option<std::path::PathBuf>,
        /// The registered model's name.
        #[arg(long)]
        name: String,
        /// Versions this one derives from, as NAME:VERSION (lineage).
        #[arg(long = "parent")]
        parents: Vec<String>,
        /// Extra version tags, KEY=VALUE.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Point ALIAS (e.g. champion, challenger) at VERSION; the move is recorded.
    Alias {
        /// The registered model.
        name: String,
        /// The alias to point (champion, challenger, ...).
        alias: String,
        /// The version it points at from now on.
        version: u64,
        /// Why, recorded with the move in the alias history.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Move ALIAS back to the version it held before its latest move.
    Rollback {
        /// The registered model.
        name: String,
        /// The alias to move back.
        alias: String,
        /// Why, recorded with the move in the alias history.
        #[arg(long, default_value = "rollback")]
        reason: String,
    },
    /// Set a metadata tag on a model, or on one version with --version.
    Tag {
        /// The registered model.
        name: String,
        /// KEY=VALUE
        tag: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// List registered models.
    List,
    /// A model's versions, aliases, alias history and lineage.
    Show {
        /// The registered model.
        name: String,
    },
}

fn kv(s: &str) -> Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("`{s}`: expected KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

fn show(m: &ModelInfo) {
    println!("{}", m.name);
    let mut t = Table::new(&["version", "aliases", "run", "data", "git", "parents"]);
    for v in &m.versions {
        let aliases: Vec<&str> = m
            .aliases
            .iter()
            .filter(|(_, x)| **x == v.version)
            .map(|(a, _)| a.as_str())
            .collect();
        let tag = |k: &str| {
            v.tags
                .get(k)
                .map(|s| s.chars().take(12).collect::<String>())
                .unwrap_or_else(|| "-".into())
        };
        t.row(vec![
            v.version.to_string(),
            aliases.join(","),
            v.run_id.clone(),
            tag("strider.data_fingerprint"),
            tag("strider.git_revision"),
            tag("strider.parent_versions"),
        ]);
    }
    print!("{}", t.render());
    for alias in m.aliases.keys() {
        println!("\n{alias} history:");
        for h in alias_history(m, alias) {
            let when = chrono::DateTime::from_timestamp_millis(h.time_ms)
                .map(|d| d.to_rfc3339())
                .unwrap_or_default();
            let prev = h.previous.map_or("-".to_string(), |p| p.to_string());
            let by = if h.by.is_empty() { "-" } else { &h.by };
            println!("  {when}  {prev} -> {}  {by}  {}", h.version, h.reason);
        }
    }
    let serving: Vec<(&str, &String)> = m
        .tags
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("strider.serving.")?, v)))
        .collect();
    if !serving.is_empty() {
        println!("\nserving processes (last version picked up):");
        for (who, version) in serving {
            println!("  {who}  version {version}");
        }
    }
}

fn register_bundle_folder(
    args: &ModelsArgs,
    path: &std::path::Path,
    name: &str,
    parents: &[String],
    tags: &[String],
) -> Result<()> {
    let extra = tags.iter().map(|s| kv(s)).collect::<Result<_>>()?;
    let r = register_bundle(args.tracking_uri.as_deref(), path, name, parents, &extra)?;
    if args.json {
        let out = json!({"name": name, "version": r.version, "source": r.source,
                         "model_id": r.model_id, "tags": r.tags});
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("registered {name} version {} from {}", r.version, r.source);
    }
    Ok(())
}

/// A tracked run (or, with `model`, its bundle of that model, checked first) as a new version.
#[allow(clippy::too_many_arguments)]
fn register_run(
    reg: &mut dyn Registry,
    tracking_uri: Option<&str>,
    run: &str,
    model: Option<&str>,
    name: &str,
    parents: &[String],
    tags: &[String],
    json_out: bool,
) -> Result<serde_json::Value> {
    let (source, mut t) = lineage_tags(reg, run, parents)?;
    let source = match model {
        Some(m) => {
            let source = format!("{source}/bundles/{m}");
            check_registered_bundle(tracking_uri, &source)
                .with_context(|| format!("run `{run}` has no usable bundle of model `{m}`"))?;
            source
        }
        None => source,
    };
    for s in tags {
        let (k, v) = kv(s)?;
        t.insert(k, v);
    }
    let version = reg.create_version(name, run, &source, &t)?;
    if !json_out {
        println!("registered {name} version {version} from {source}");
    }
    Ok(json!({"name": name, "version": version, "source": source, "tags": t}))
}

pub fn run(args: ModelsArgs) -> Result<()> {
    // A bundle is read and checked before the registry is opened (or created).
    if let ModelsCommand::Register {
        bundle: Some(path),
        name,
        parents,
        tags,
        ..
    } = &args.command
    {
        return register_bundle_folder(&args, path, name, parents, tags);
    }
    let uri = TrackingUri::resolve(args.tracking_uri.as_deref());
    let (store, rest);
    let reg: &mut dyn Registry = match &uri {
        TrackingUri::Local(p) => {
            store = LocalStore::open(p)?;
            &mut LocalRegistry { store: &store }
        }
        TrackingUri::Server(base) => {
            rest = RestClient::new(base);
            &mut RestRegistry { rest: &rest }
        }
    };
    let out = match &args.command {
        ModelsCommand::Register {
            run,
            model,
            name,
            parents,
            tags,
            ..
        } => {
            let run = run.as_deref().context("give --run or --bundle")?;
            let uri = args.tracking_uri.as_deref();
            register_run(
                reg,
                uri,
                run,
                model.as_deref(),
                name,
                parents,
                tags,
                args.json,
            )?
        }
        ModelsCommand::Alias {
            name,
            alias,
            version,
            reason,
        } => {
            let previous = move_alias(reg, name, alias, *version, reason)?;
            if !args.json {
                println!(
                    "{name}@{alias}: {} -> {version}",
                    previous.map_or("-".into(), |p| p.to_string())
                );
            }
            json!({"name": name, "alias": alias, "version": version, "previous": previous})
        }
        ModelsCommand::Rollback {
            name,
            alias,
            reason,
        } => {
            let (from, to) = rollback(reg, name, alias, reason)?;
            if !args.json {
                println!("{name}@{alias}: rolled back {from} -> {to}");
            }
            json!({"name": name, "alias": alias, "from": from, "version": to})
        }
        ModelsCommand::Tag { name, tag, version } => {
            let (k, v) = kv(tag)?;
            match version {
                Some(ver) => reg.set_version_tag(name, *ver, &k, &v)?,
                None => reg.set_model_tag(name, &k, &v)?,
            }
            json!({"name": name, "version": version, "key": k, "value": v})
        }
        ModelsCommand::List => {
            let names = reg.list_models()?;
            let models: Vec<ModelInfo> = names
                .iter()
                .map(|n| reg.get_model(n))
                .collect::<Result<_, _>>()?;
            if !args.json {
                let mut t = Table::new(&["model", "versions", "aliases"]);
                for m in &models {
                    let aliases: Vec<String> =
                        m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
                    t.row(vec![
                        m.name.clone(),
                        m.versions.len().to_string(),
                        aliases.join(" "),
                    ]);
                }
                print!("{}", t.render());
            }
            json!(models)
        }
        ModelsCommand::Show { name } => {
            let m = reg.get_model(name)?;
            if !args.json {
                show(&m);
            }
            let history: BTreeMap<&String, _> = m
                .aliases
                .keys()
                .map(|a| (a, alias_history(&m, a)))
                .collect();
            json!({"model": m, "alias_history": history})
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
    }
    Ok(())
}
