"""The command line's help, checked by walking the parser: every option says what it does, every
subcommand ends its help with examples, and no command offers an option that does nothing for it."""

from __future__ import annotations

import argparse

import pytest

from cloudbackup.cli.main import build_parser, main

# Options that mean something only for some commands (what they are for, in the comment).
ONLY_FOR = {
    "--kms-key-id": {"backup", "binlog archive"},  # encrypts new objects: only these write any
    "--store": {
        "list",
        "restore",
        "verify",
        "show",
        "drill",
    },  # narrows what is read; prune's scope is its own matter
    "--yes": {"restore"},  # answers the --in-place question
    "--db-url": {"backup", "restore", "drill", "binlog archive"},  # the commands that reach a server
}


def subcommands(
    parser: argparse.ArgumentParser | None = None, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand, nested ones too (`binlog archive`), by its name after `cloudbackup`."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found[prefix + name] = child
                found.update(subcommands(child, prefix + name + " "))
    return found


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_has_a_help_line(name):
    missing = [a.option_strings[0] for a in options(subcommands()[name]) if not a.help]
    assert missing == [], f"cloudbackup {name}: options without help: {missing}"


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_each_subcommand_help_ends_with_examples(name):
    text = subcommands()[name].format_help()
    tail = text.rstrip().rsplit("\n\n", 1)[-1]
    assert tail.startswith("examples:\n"), text
    assert all(line.startswith("  ") for line in tail.splitlines()[1:])
    assert f"cloudbackup {name} " in tail
    assert "130" in text  # exit codes, Ctrl-C's included


@pytest.mark.parametrize(("option", "commands"), sorted(ONLY_FOR.items()))
def test_options_are_offered_only_where_they_do_something(option, commands):
    offering = {
        name
        for name, parser in subcommands().items()
        if any(option in a.option_strings for a in options(parser))
    }
    assert offering == commands


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["verify", "-b", "3fa2"], "unrecognized arguments: -b"),  # a short flag the command does not have
        (["show", "--bakcup=3fa2"], "unrecognized arguments: --bakcup=3fa2"),
        (["verify"], "the following arguments are required: --backup"),  # nothing unknown: the missing one
    ],
)
def test_an_unknown_flag_is_named_before_the_required_one_it_was_meant_for(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a command is given a flag it does not know, in place of one it requires
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--data", "/nonexistent"])
    # Then the one-line error names the unknown flag, the operator's actual mistake
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert named in line


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_each_example_parses_and_names_the_region_of_a_bucket_it_names(name):
    # Given the examples a command's help ends with (a line ending in `\` goes on in the next)
    tail = subcommands()[name].format_help().rstrip().rsplit("\n\n", 1)[-1]
    joined = " ".join(line.strip() for line in tail.splitlines()[1:]).replace("\\ ", "")
    for example in ("cloudbackup " + e for e in joined.split("cloudbackup ")[1:]):
        words = [w for w in example.split()[1:] if w != "\\"]
        # Then each parses, and one naming a bucket names its region: the command needs both
        build_parser().parse_args(words)
        if "--backup-bucket" in words:
            assert "--backup-region" in words, example
