"""An untracked channel the survey's answers name that the run tracks under a close name is
said with the alias to write (new-user report 22b, S1: answers "G2 reviews" coded to
g2_capterra, the touches' channel g2: 329 answers called 100% dark, left out of the
comparison, nothing said)."""

from __future__ import annotations

from attribution.surveys._result import near_channel_lines


def test_a_close_name_is_said_with_the_alias() -> None:
    (line,) = near_channel_lines(["g2_capterra"], ["g2", "linkedin", "google_ads"])
    assert line.startswith("'g2_capterra' (coded from the answers) is not a channel of the "
                           "run, which has 'g2': the same channel?")
    assert "channel_aliases={'g2_capterra': ['g2']}" in line
    assert near_channel_lines(["podcast"], ["g2", "linkedin"]) == []
    # a shared generic word is not the same channel
    assert near_channel_lines(["organic_social"], ["paid_social", "email"]) == []
    assert len(near_channel_lines(["linked_in"], ["linkedin"])) == 1  # close letters
