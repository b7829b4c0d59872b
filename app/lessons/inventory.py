"""The concept inventory: ten questions on the unified view, taken before the course and after its last lesson.

Its questions are not the lessons' questions; their wrong options are the misconceptions the lessons target (α as
attention's share of the output, a conv recomputing A per image, a Mixer running on any grid, rollout as an
explanation, attention as always spread out, one A per channel in multi-head attention, ...). Each time it is one
form, submitted once, with no feedback before submitting; then the score, which answers were right and why, and
after the second time the normalised gain (post − pre) / (100 − pre). Answers go to the progress store
(:meth:`~app.lessons.parts.progress.ProgressStore.record_inventory`). Not a lesson: the ``pre`` check is offered
above the lesson picker, the ``post`` check is the closing lesson's last step.
"""

from __future__ import annotations

import math

import streamlit as st

from app.i18n import N_, _
from app.lessons.parts.progress import InventoryRecord, normalised_gain, session_store
from app.lessons.parts.widgets import Question

__all__ = ["QUESTIONS", "PHASES", "score", "answer_key", "submit_key", "render_inventory", "render_pre_check"]

PHASES = ("pre", "post")

QUESTIONS: tuple[Question, ...] = (
    Question(
        N_("Two Container-Light blocks end training with α = 0.3 and α = 0.6. A classmate says the second block's "
           "output is 60 % attention. What is wrong with that?"),
        (
            (N_("α weights the affinity A(X), not the output; shares depend on A(X)V and A^conv V"),
             N_("α multiplies the attention affinity inside the blend. How much each branch contributes to the "
                "output depends on what each affinity does to V, which α alone does not say.")),
            (N_("Nothing: α is defined as the fraction of the block's output that attention produces"),
             N_("α is a weight on an affinity, not a measured fraction of the output.")),
            (N_("It should be 40 %: α weights the conv and 1 − α weights attention"),
             N_("In Container-Light α = σ(sa_weight) weights attention, β = 1 − α the conv; and neither is a share "
                "of the output.")),
        ),
        0,
    ),
    Question(
        N_("A trained depthwise conv's affinity A_c is drawn for a sandal, then for a shirt. What changes between "
           "the two drawings?"),
        (
            (N_("The band's weights: the conv recomputes them from each picture's pixels"),
             N_("A conv's weights are fixed after training; the pixels only enter through V.")),
            (N_("Nothing: A_c comes from the kernel alone; only A_c V_c changes"),
             N_("A static affinity is the same for every input; what differs is the V it is applied to.")),
            (N_("The band's width: a busier picture widens the region the kernel covers"),
             N_("The band is k × k around each query for every input; k is fixed when the layer is built.")),
        ),
        1,
    ),
    Question(
        N_("You want one trained model to classify both 28 × 28 and 56 × 56 images without retraining. Which token "
           "mixer rules that out?"),
        (
            (N_("Self-attention, since its softmax needs a fixed number of tokens"),
             N_("The softmax runs over however many tokens there are; attention has no N × N parameters.")),
            (N_("A depthwise conv, since its kernel was learned on one particular grid size"),
             N_("A k × k kernel slides over any grid; it has no parameter per position.")),
            (N_("A learned dense N × N matrix, as in MLP-Mixer or a multi-head MLP"),
             N_("Its parameters are one weight per pair of tokens of the training grid: another grid has other "
                "pairs.")),
        ),
        2,
    ),
    Question(
        N_("Attention rollout puts most of its weight on a dress's collar. Which step would test whether the "
           "collar matters to the prediction?"),
        (
            (N_("Mask or change the collar, then measure how much the class score moves"),
             N_("Rollout traces how tokens are mixed through the attention maps only; whether a region matters to "
                "the prediction takes an intervention.")),
            (N_("None is needed: rollout already shows the collar caused the label"),
             N_("Rollout ignores the MLPs, the values and the static branch: it is not a causal explanation.")),
            (N_("Run rollout on more dresses and count how often the collar lights up"),
             N_("More rollout maps describe the mixing more often; they still test nothing about the prediction.")),
        ),
        0,
    ),
    Question(
        N_("A trained head's attention rows have an entropy far below log N. What does that say about the head?"),
        (
            (N_("It spreads its weight evenly over all tokens, as every dense operator must"),
             N_("Even weights over N tokens give the largest entropy, log N; far below means concentrated.")),
            (N_("Its affinity no longer depends on the input image"),
             N_("Entropy says how concentrated a row is, not whether it changes with the input.")),
            (N_("It concentrates on a few tokens, though it could reach all"),
             N_("Dense means every token may contribute; a low entropy shows the learned rows pick a few.")),
        ),
        2,
    ),
    Question(
        N_("Attention with M = 4 heads runs on C = 64 channels. Which channels share one affinity?"),
        (
            (N_("None: each channel has its own A, as in a depthwise conv"),
             N_("One A per channel is the depthwise conv's pattern; attention makes one per head.")),
            (N_("Each head's 16 channels share that head's A_m"),
             N_("The channels are split into M groups of C/M; each group is mixed by its head's A_m.")),
            (N_("All 64: the heads differ only in how W_o mixes them"),
             N_("Each head computes its own Q_m and K_m, hence its own A_m.")),
        ),
        1,
    ),
    Question(
        N_("Written as Y = concat(A_m V_m) W_o, what still differs between self-attention, a depthwise conv and "
           "MLP-Mixer token mixing?"),
        (
            (N_("Which tokens each can read: only attention sees the whole image"),
             N_("The Mixer's dense A reaches every token too; only the conv is local.")),
            (N_("How outputs are combined: attention averages, conv sums, Mixer projects"),
             N_("All three combine the same way, a weighted sum of value rows; only the weights differ.")),
            (N_("Only how each A_m is made, and therefore how many of them there are"),
             N_("That is the unified view: one aggregation, three ways of making the affinity.")),
        ),
        2,
    ),
    Question(
        N_("Which operator is static (A is fixed after training) yet dense (every token reaches every token)?"),
        (
            (N_("The token mixing of an MLP-Mixer"),
             N_("One learned N × N matrix: the same for every image, and non-zero everywhere.")),
            (N_("Self-attention without position code"),
             N_("Dense, but dynamic: A is recomputed from each input.")),
            (N_("A 5 × 5 depthwise convolution"),
             N_("Static, but sparse: a row is non-zero only inside the kernel's window.")),
        ),
        0,
    ),
    Question(
        N_("Attention without position encoding gets an image, then the same image with its tokens shuffled. How "
           "do the two outputs relate?"),
        (
            (N_("They are unrelated: shuffling changes what every head attends to"),
             N_("Each head attends by content, which shuffling keeps; only the order of the tokens changes.")),
            (N_("They are equal token for token, since attention ignores order"),
             N_("Ignoring order means the outputs move with their tokens, so position by position they differ.")),
            (N_("They hold the same output tokens, shuffled the same way"),
             N_("Attention without a position code is permutation-equivariant: shuffle the input, and the output "
                "is shuffled alike.")),
        ),
        2,
    ),
    Question(
        N_("Why can Container-Light serve as a detection backbone on large inputs, where a plain ViT struggles?"),
        (
            (N_("Its high-resolution stages use convs, whose cost grows with N, not N²"),
             N_("Attention only runs on the last, smallest grid; the large early grids use convs, linear in N.")),
            (N_("Its attention uses fewer heads, so its cost stops growing as N²"),
             N_("Fewer heads divide the cost by a constant; each head's A still has N² entries.")),
            (N_("Its mixer's learned matrix is resized to each input's grid"),
             N_("Container-Light has no learned N × N matrix; its static part is a depthwise conv.")),
        ),
        0,
    ),
)


def score(answers: dict[int, str]) -> float:
    """Percent of :data:`QUESTIONS` answered right (English options by question index; a missing answer is wrong)."""
    right = sum(answers.get(index) == question.right_option for index, question in enumerate(QUESTIONS))
    return 100 * right / len(QUESTIONS)


def answer_key(phase: str, index: int) -> str:
    return f"inventory_{phase}_{index}"


def submit_key(phase: str) -> str:
    return f"inventory_{phase}_submit"


def _just_submitted_key(phase: str) -> str:
    return f"inventory_{phase}_just_submitted"


def _on_submit(phase: str) -> None:
    answers = {index: st.session_state.get(answer_key(phase, index)) for index in range(len(QUESTIONS))}
    answered = {index: option for index, option in answers.items() if option is not None}
    session_store().record_inventory(phase, answered, score(answered))
    st.session_state[_just_submitted_key(phase)] = True


def _balanced_split() -> int:
    """How many questions go in the left column, in order, so that both columns are about as tall.

    Height is counted in lines of a half-width column (about 55 characters of a prompt, 45 of an option) and one
    line of spacing per question.
    """
    sizes = [1 + math.ceil(len(question.english_prompt) / 55) + sum(math.ceil(len(option) / 45)
                                                                    for option in question.options)
             for question in QUESTIONS]
    return min(range(1, len(sizes)), key=lambda split: abs(sum(sizes[:split]) - sum(sizes[split:])))


def _form(phase: str) -> None:
    if phase == "post":
        st.caption(_("The same check as before the course. No feedback before you submit, and one submission only; a "
                     "question left blank counts as wrong. Then your score, and your gain since the first check."))
    else:
        st.caption(_("No feedback before you submit, and one submission only; a question left blank counts as "
                     "wrong."))
    with st.form(f"inventory_{phase}_form"):
        columns = st.columns(2, gap="large")  # two columns of questions: the form stays about one screen tall
        split = _balanced_split()
        for index, question in enumerate(QUESTIONS):
            labels = {option: question.shown(option) for option in question.options}  # built in the run: rule 6
            columns[0 if index < split else 1].radio(f"{index + 1}. " + question.shown(question.english_prompt),
                                         question.options, index=None, key=answer_key(phase, index),
                                         format_func=labels.__getitem__)
        st.form_submit_button(_("Submit my answers"), on_click=_on_submit, args=(phase,), type="primary",
                              key=submit_key(phase))


def _results(record: InventoryRecord) -> None:
    right = sum(record.answers.get(index) == question.right_option for index, question in enumerate(QUESTIONS))
    st.markdown(_("**Your score: {right} of {total} right ({score:.0f} %).**").format(
        right=right, total=len(QUESTIONS), score=record.score))
    lines = []
    for index, question in enumerate(QUESTIONS):
        chosen = record.answers.get(index)
        mark = "✓" if chosen == question.right_option else "✗"
        explanation = question.shown(question.feedback(question.right_option))
        lines.append(_("{mark} {number}. Right answer: {answer}. {explanation}").format(
            mark=mark, number=index + 1, answer=question.shown(question.right_option), explanation=explanation))
    st.markdown("\n".join(f"- {line}" for line in lines))


def gain_text(pre: float, post: float) -> str:
    """The normalised gain written out, in the session's language."""
    gain = normalised_gain(pre, post)
    if gain is None:
        return _("You scored 100 % before the course, so there is no room left to gain: the normalised gain is not "
                 "defined.")
    return _("Normalised gain (post − pre) / (100 − pre) = ({post:.0f} − {pre:.0f}) / (100 − {pre:.0f}) = "
             "{gain:.2f}").format(post=post, pre=pre, gain=gain)


def render_inventory(phase: str) -> None:
    """The form until it is submitted; then the score, which answers were right, and (post) the gain."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    store = session_store()
    record = store.inventory(phase)
    if record is None:
        _form(phase)
        return
    _results(record)
    if phase == "post":
        before = store.inventory("pre")
        if before is None:
            st.info(_("You did not take the check before the course, so there is no gain to compute."))
        else:
            st.success(gain_text(before.score, record.score))


def render_pre_check() -> None:
    """Above the lesson picker: the ``pre`` check, offered until taken, then its result folded away."""
    record = session_store().inventory("pre")
    if record is None:
        with st.expander(_("Before you start: a {count}-question concept check (optional)").format(
                count=len(QUESTIONS)), icon=":material/assignment:"):
            render_inventory("pre")
        return
    just_submitted = st.session_state.pop(_just_submitted_key("pre"), False)
    with st.expander(_("Your concept check before the course: {score:.0f} %").format(score=record.score),
                     expanded=just_submitted, icon=":material/assignment_turned_in:"):
        render_inventory("pre")
