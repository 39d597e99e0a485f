/* Removed when the first learner source lands. */
int bh_learner_placeholder(void);
int bh_learner_placeholder(void)
{
	return 0;
}
