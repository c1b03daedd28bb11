//! `strider completions SHELL`: the shell's completion script for every command and flag
//! (clap_complete), printed on stdout.

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider completions bash > ~/.local/share/bash-completion/completions/strider
  strider completions zsh > \"${fpath[1]}/_strider\"
  strider completions fish > ~/.config/fish/completions/strider.fish")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    shell: Shell,
}

pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut command = crate::Cli::command();
    clap_complete::generate(args.shell, &mut command, "strider", &mut std::io::stdout());
    Ok(())
}
