/* Removed when the first enforcer source lands. */
int bh_enforcer_placeholder(void);
int bh_enforcer_placeholder(void)
{
	return 0;
}
